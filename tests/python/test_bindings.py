"""What the bindings promise beyond the numbers: zero-copy inputs and outputs, outputs that
outlive their layer, threads, the BERT model and the head view, thread settings and errors."""
import gc
import os
import threading

import numpy as np
import pytest
import torch

import mha


def test_contiguous_float32_is_read_in_place_and_others_cost_one_copy():
    x = np.ones((4, 8), dtype=np.float32)
    assert mha._core._view_address(x) == x.ctypes.data
    t = torch.ones(4, 8)
    assert mha._core._view_address(t.numpy()) == t.data_ptr()
    assert mha._core._view_address(x.astype(np.float64)) != x.ctypes.data
    strided = np.ones((4, 16), dtype=np.float32)[:, ::2]
    assert mha._core._view_address(strided) != strided.ctypes.data


def test_a_dlpack_producer_is_read_in_place():
    t = torch.arange(16, dtype=torch.float32).reshape(2, 8)

    class Producer:  # not a tensor, not an array: only the DLPack protocol
        def __dlpack__(self, stream=None):
            return t.__dlpack__()

        def __dlpack_device__(self):
            return t.__dlpack_device__()

    view = mha._to_numpy(Producer(), "x")
    assert mha._core._view_address(view) == t.data_ptr()
    layer = mha.MultiheadAttention(8, 2, batch_first=True)
    x = Producer()
    out, _ = layer(x, x, x)
    np.testing.assert_array_equal(out, layer(t.numpy(), t.numpy(), t.numpy())[0])


def test_outputs_own_the_library_buffer_and_outlive_the_layer():
    layer = mha.MultiheadAttention(8, 2)
    x = np.random.default_rng(0).standard_normal((3, 1, 8)).astype(np.float32)
    out, weights = layer(x, x, x)
    assert not out.flags.owndata and out.base is not None  # a view of the library's buffer
    expected = out.copy()
    del layer
    gc.collect()
    np.testing.assert_array_equal(out, expected)
    t_out, _ = mha.MultiheadAttention(8, 2)(torch.from_numpy(x), torch.from_numpy(x), torch.from_numpy(x))
    assert t_out.numpy().base is not None  # torch.from_numpy over the same buffer


def test_two_threads_calling_one_layer_get_the_serial_result():
    # One kernel thread per call: the result is bit-identical for a fixed thread count, and two
    # concurrent calls that each asked for every core could each get fewer.
    mha.set_num_threads(1)
    layer = mha.MultiheadAttention(32, 4, batch_first=True)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((2, 64, 32)).astype(np.float32) for _ in range(2)]
    serial = [layer(x, x, x)[0] for x in inputs]
    results = [None, None]

    def run(i):
        for _ in range(20):
            results[i] = layer(inputs[i], inputs[i], inputs[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mha.set_num_threads(0)
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)


def test_thread_count_settings():
    before = mha.get_num_threads()
    mha.set_num_threads(1)
    assert mha.get_num_threads() == 1
    mha.set_num_threads(0)
    assert mha.get_num_threads() == before
    with pytest.raises(ValueError, match="set_num_threads"):
        mha.set_num_threads(-1)
    assert mha.simd_target()


def test_bert_model_and_head_view(bert_fixture_dir):
    model = mha.BertModel.from_pretrained(bert_fixture_dir)
    ids = np.array([[6, 33, 34, 7]], dtype=np.int64)
    out = model(ids)
    layers, heads = model.config["num_hidden_layers"], model.config["num_attention_heads"]
    assert out["last_hidden_state"].shape == (1, 4, model.config["hidden_size"])
    assert len(out["hidden_states"]) == layers + 1 and len(out["attentions"]) == layers
    assert out["attentions"][0].shape == (1, heads, 4, 4)
    np.testing.assert_allclose(out["attentions"][0].sum(-1), 1.0, atol=1e-5)
    page = mha.head_view_html(["[CLS]", "a", "b", "[SEP]"], out["attentions"], title="tiny")
    assert page.startswith("<!DOCTYPE html>") and "tiny" in page
    torch_out = model(torch.from_numpy(ids), output_attentions=False)
    assert isinstance(torch_out["last_hidden_state"], torch.Tensor) and torch_out["attentions"] is None
    with pytest.raises(ValueError, match="input_ids"):
        model(np.array([[6, 10000]], dtype=np.int64))
    with pytest.raises((OSError, ValueError), match="config.json"):
        mha.BertModel.from_pretrained(os.path.join(bert_fixture_dir, "no-such-folder"))
    with pytest.raises(ValueError, match="attention"):
        mha.head_view_html(["a"], [np.zeros((2, 3, 3), dtype=np.float32)])


def test_trained_demo_model_matches_the_cli_and_shows_in_the_head_view():
    model = mha.TrainedModel.demo("demo-4-heads")
    assert model.config["num_heads"] == 4 and model.config["num_layers"] == 2
    out = model("the man saw the astronaut with a telescope")
    assert out["tokens"] == "the man saw the astronaut with a telescope".split()
    assert out["attentions"][-1].shape == (1, 4, 8, 8)
    assert out["logits"].shape == (1, 8, len(model.words))
    np.testing.assert_allclose(out["attentions"][0].sum(-1), 1.0, atol=1e-5)
    assert "telescope" in mha.head_view_html(out["tokens"], out["attentions"])
    cli = os.environ.get("MHA_CLI")
    if cli:  # the same numbers as `mha heads --model demo --json`
        import json
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "heads.json")
            subprocess.run([cli, "heads", "--model", "demo", "--text", " ".join(out["tokens"]), "--json", path],
                           check=True, capture_output=True)
            with open(path) as f:
                expected = json.load(f)["attention"]
        for layer, weights in enumerate(out["attentions"]):
            np.testing.assert_allclose(weights[0], np.array(expected[layer]), atol=1e-6)
    with pytest.raises(ValueError, match='text: expected a word of the vocabulary, got "zebra"'):
        model("the zebra")
    with pytest.raises(ValueError, match="name: expected one of"):
        mha.TrainedModel.demo("demo-8-heads")
    with pytest.raises(OSError):
        mha.TrainedModel.load("/no/such/checkpoint.safetensors")
