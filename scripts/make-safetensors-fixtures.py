"""Writes test/fixtures/safetensors/*.safetensors with the reference
implementation (the `safetensors` Python package, 0.8.0, and numpy), for
test/safetensors.test.ts: ampc must read these files and, given the same
tensors, write the same bytes.

    python3 -m venv /tmp/st && /tmp/st/bin/pip install safetensors==0.8.0 numpy
    /tmp/st/bin/python scripts/make-safetensors-fixtures.py
"""
import os
import numpy as np
from safetensors.numpy import save

HERE = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'safetensors')
os.makedirs(HERE, exist_ok=True)

def write(name, tensors, metadata=None):
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(save(tensors, metadata=metadata))

# Every dtype ampc has, a scalar, an empty tensor, non-finite values, metadata.
write('mixed.safetensors', {
    'w': np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5,
    'layer.0.bias': np.array([1.5, -2, 65504, np.inf, -np.inf], dtype=np.float16),
    'ids': np.array([3, -4, 2147483647], dtype=np.int32),
    'count': np.array([0, 7, 4294967295], dtype=np.uint32),
    'mask': np.array([True, False, True]),
    'empty': np.zeros((0, 2), np.float32),
    'scale': np.array(65536, np.float32),
    'nan': np.array([np.nan], np.float32),
}, metadata={'format': 'ampc'})  # one key: the reference keeps metadata in a HashMap, whose order varies

# No metadata; names whose sort order differs from insertion order.
write('plain.safetensors', {
    'b': np.array([[1, 2], [3, 4]], dtype=np.float32),
    'a': np.array([0.25, 0.5, 0.75], dtype=np.float32),
})

# A dtype ampc does not have (f64): reading it is a clear error.
write('f64.safetensors', {'x': np.array([1.0, 2.0], dtype=np.float64)})
