"""Checkpoints: parameters, optimizer state and random state in plain HDF5 files.

>>> nnthe.save_checkpoint('run.h5', model=model, optimizer=opt, meta={'epoch': 3})  # doctest: +SKIP
>>> meta = nnthe.load_checkpoint('run.h5', model=model, optimizer=opt)               # doctest: +SKIP

Saving is atomic (a crash leaves the old file or the new one; a Ctrl-C either lets the
save finish or raises KeyboardInterrupt), loading is strict and safe (everything is
compared before anything changes; every byte read is checked against a checksum; links,
virtual datasets, non-numeric data and files that are not regular HDF5 files are refused;
nothing is ever unpickled or executed; every failure to read a file is a
:class:`CheckpointError` naming it). See
:mod:`nnthe.checkpoint.format` for the layout of the file.
"""
from .format import FORMAT_VERSION, CheckpointError, CheckpointMismatchError
from .interop import export_npz, import_npz, load_state_dict, state_dict
from .load import CheckpointWarning, Metadata, load_checkpoint, verify_checkpoint
from .manager import CheckpointManager
from .matching import LoadReport
from .save import save_checkpoint
from .safetensors import load_safetensors, save_safetensors

__all__ = ["save_checkpoint", "load_checkpoint", "verify_checkpoint", "CheckpointManager", "CheckpointError",
           "CheckpointMismatchError", "CheckpointWarning", "LoadReport", "Metadata",
           "FORMAT_VERSION", "state_dict", "load_state_dict", "export_npz", "import_npz"]
