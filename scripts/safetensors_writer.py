"""A minimal safetensors writer shared by the fixture scripts (make_parity_fixtures.py,
make_grad_fixtures.py, make_bert_fixture.py): the safetensors package is not installed where they
run, and the C++ reader they test is better checked against files it did not write itself.

Layout (docs/safetensors.md): a u64 little-endian header length N, N bytes of JSON padded with
spaces to a multiple of 8, then the data buffer. As the reference writer does, tensors are stored
contiguous, ordered by descending rank of their dtype in the format's Dtype enum, then by name,
with offsets from 0, so the bytes depend only on the tensors and the metadata.
"""

import json
import struct

import numpy as np
import torch

# dtype name -> rank in the format's Dtype enum order (the sort key of the data buffer)
_RANK = {"BOOL": 0, "F16": 13, "BF16": 14, "F32": 17, "F64": 19, "I64": 20}
_NUMPY_NAME = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.int64): "I64",
}
_TORCH_NAME = {
    torch.bool: "BOOL",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int64: "I64",
}


def _encode(name, value):
    """(dtype name, shape, little-endian bytes) of a numpy array or a torch tensor."""
    if isinstance(value, torch.Tensor):
        t = value.detach().contiguous().cpu()
        if t.dtype not in _TORCH_NAME:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        dtype = _TORCH_NAME[t.dtype]
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: take the raw 16-bit patterns
            t = t.view(torch.int16)
        array = t.numpy()
    else:
        array = np.ascontiguousarray(value)
        if array.dtype not in _NUMPY_NAME:
            raise TypeError(f"{name}: unsupported dtype {array.dtype}")
        dtype = _NUMPY_NAME[array.dtype]
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return dtype, list(array.shape), data


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (name -> numpy array or torch tensor) and `metadata` (stored as strings
    under __metadata__, left out when empty) to `path`."""
    encoded = {name: _encode(name, value) for name, value in tensors.items()}
    order = sorted(encoded, key=lambda n: (-_RANK[encoded[n][0]], n))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        dtype, shape, data = encoded[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name in order:
            out.write(encoded[name][2])
