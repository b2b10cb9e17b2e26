"""The first nnthe program: a symbolic derivative, compiled and evaluated.

    python examples/seed.py
"""
import nnthe as theano  # a Theano user's habit works unchanged
import nnthe.tensor as T

x = T.scalar('x')
y = x**2 + 3*x + 1
dy_dx = theano.grad(y, x)
gradient_function = theano.function([x], dy_dx)
print(gradient_function(2))
