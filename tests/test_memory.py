"""Memory counted: the formulas the scale chapter states, against the tensors."""

import torch

from model_src import memory, parallel, prepare, presets, probe
from model_src.model import GPT, GPTConfig


def _char_shaped(T):
    torch.manual_seed(0)
    config = GPTConfig(n_layer=4, n_head=4, n_embd=128, block_size=T, vocab_size=128)
    return GPT(config), torch.randint(0, 128, (8, T))


def test_weights_gradients_and_adamw_take_16_bytes_a_parameter():
    model, idx = _char_shaped(64)
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    model(idx, idx)[1].backward()
    optimizer.step()
    counted = memory.state_bytes(model, optimizer)
    n = sum(p.numel() for p in model.parameters())
    assert counted["weights"] == counted["gradients"] == 4 * n
    steps = 4 * len(optimizer.state)  # one float32 step count per parameter tensor
    assert counted["optimizer"] == 8 * n + steps


def test_plain_attention_saves_one_t_by_t_matrix_per_head_and_layer():
    for T in (64, 256):
        model, idx = _char_shaped(T)
        fused = memory.saved_bytes(model, idx)
        with probe.attention_maps(model):  # the plain path
            plain = memory.saved_bytes(model, idx)
        B, L, nh = 8, 4, 4
        assert abs((plain - fused) / (4 * L * B * nh * T * T) - 1) < 0.02


def test_two_processes_all_reduce_the_one_process_gradient():
    torch.manual_seed(0)
    model = GPT(presets.gpt_config("sort"))
    data = prepare.sort_data()
    x, y = prepare.sample_batch(data.train, data.meta, 32, 11, torch.Generator().manual_seed(0))
    shared = parallel.data_parallel_grads(model, x, y, world_size=2)
    model(x, y)[1].backward()
    gap = max(
        (a - p.grad).abs().max().item() for a, p in zip(shared, model.parameters(), strict=True)
    )
    assert gap < 1e-6
