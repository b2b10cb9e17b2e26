"""Theano's ``theano.sandbox`` names that programs import (``rng_mrg``)."""
