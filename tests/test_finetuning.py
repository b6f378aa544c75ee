"""chat.py, lora.py and finetune.py: the conversation format, its loss mask, the grown
model, and adapters that leave the base model exactly as it was."""

import copy

import pytest
import torch
from torch.nn import functional as F

from model_src import chat, finetune, lora, presets, train
from model_src.experiments import finetune_runs
from model_src.model import GPT
from model_src.trained import weights_digest


def tokens_of(ids):
    return [chat.VOCAB[i] for i in ids]


def test_a_conversation_renders_to_ids_and_a_mask_over_the_reply_only():
    ids, trained = chat.render(chat.conversation("↑", "CAB"))
    assert tokens_of(ids) == ["<user>", "↑", "C", "A", "B", "<assistant>", "A", "B", "C", "<end>"]
    assert trained == [False] * 6 + [True] * 4
    assert ids[:3] == [chat.STOI["<user>"], chat.STOI["↑"], 2]  # the letters keep ids 0, 1, 2


def test_the_targets_are_the_next_ids_and_minus_one_where_the_loss_must_not_look():
    ids, trained = chat.render(chat.conversation("#", "AABBBCCAAAA"))
    x, y = chat.example(ids, trained)
    assert x.tolist() == ids[:-1]
    scored = [t for t, keep in zip(ids[1:], trained[1:], strict=True) if keep]
    assert [t for t in y.tolist() if t != -1] == scored == [chat.STOI["A"], chat.END]
    assert (y == -1).sum() == len(ids) - 1 - len(scored)
    _, every = chat.example(ids, trained, masked=False)
    assert every.tolist() == ids[1:]


def test_the_prompt_is_the_conversation_up_to_the_assistants_marker():
    ids, _ = chat.render(chat.conversation("↑", "CBA"))
    prompt = chat.prompt("↑", "CBA")
    assert ids[: len(prompt)] == prompt and chat.VOCAB[prompt[-1]] == "<assistant>"


def test_a_conversation_fills_the_context_for_both_tasks():
    for task, length in (("↑", 6), ("#", finetune.HASH_LENGTH)):
        ids, _ = chat.render(chat.conversation(task, "A" * length))
        assert len(ids) - 1 == finetune.context()


def small_gpt(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(presets.gpt_config("sort", **overrides)).eval()


def test_the_masked_loss_is_the_mean_over_the_scored_targets_only():
    model = small_gpt(vocab_size=len(chat.VOCAB), block_size=finetune.context())
    ids, trained = chat.render(chat.conversation("↑", "CABBAC"))
    x, y = chat.example(ids, trained)
    logits, loss = model(x[None], y[None])
    keep = y >= 0
    by_hand = F.cross_entropy(logits[0][keep], y[keep])
    assert torch.allclose(loss, by_hand)
    assert not torch.allclose(
        model(x[None], chat.example(ids, trained, masked=False)[1][None])[1], loss
    )


def test_grow_adds_rows_and_copies_every_trained_weight():
    base = small_gpt()
    with torch.no_grad():  # no weight left at its initial value (biases start at zero)
        for param in base.parameters():
            param.add_(0.1 * torch.randn_like(param))
    grown = chat.grow(base, len(chat.VOCAB), finetune.context())
    wte = grown.transformer.wte.weight
    assert wte.shape == (len(chat.VOCAB), base.config.n_embd)
    assert grown.lm_head.weight is wte  # still tied
    assert grown.transformer.wpe.weight.size(0) == finetune.context()
    new = grown.state_dict()
    for name, tensor in base.state_dict().items():
        assert torch.equal(new[name][: tensor.size(0)], tensor), name
    idx = presets.sample_input("sort")
    with torch.no_grad():
        # the same numbers, up to the rounding of a wider matrix product
        assert torch.allclose(grown(idx)[0][..., :3], base(idx)[0], atol=1e-5)


@pytest.mark.parametrize("rank", [1, 8])
def test_lora_trains_rank_times_in_plus_out_per_wrapped_linear(rank):
    config = presets.gpt_config("sort")
    C, L = config.n_embd, config.n_layer
    model = lora.LoRAGPT(config, rank)
    assert lora.trainable(model) == L * rank * ((C + 3 * C) + (C + 4 * C))
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    optimized = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    assert optimized == lora.trainable(model)


def test_an_adapter_starts_at_zero_and_removing_it_restores_the_base_exactly():
    base = small_gpt()
    idx = presets.sample_input("sort", batch=2)
    adapted = lora.add_lora(copy.deepcopy(base), rank=4)
    with torch.no_grad():
        assert torch.equal(adapted(idx)[0], base(idx)[0])  # B = 0: nothing changed yet
        for module in adapted.modules():
            if isinstance(module, lora.LoRALinear):
                module.lora_B.normal_()
        assert not torch.allclose(adapted(idx)[0], base(idx)[0])
        merged = lora.merge_lora(copy.deepcopy(adapted))
        assert torch.allclose(merged(idx)[0], adapted(idx)[0], atol=1e-5)
        removed = lora.remove_lora(adapted)
        assert weights_digest(removed.state_dict()) == weights_digest(base.state_dict())
        assert torch.equal(removed(idx)[0], base(idx)[0])


def test_training_an_adapter_moves_no_base_weight():
    base = small_gpt(vocab_size=len(chat.VOCAB), block_size=finetune.context())
    adapted = lora.add_lora(copy.deepcopy(base).train(), rank=2)
    cfg = {**finetune_runs.settings("LoRA r=2", 0), "max_iters": 3, "eval_iters": 1}
    batches = finetune.batches(("#",), True, 4)
    train.fit(adapted, cfg, batches)
    assert any(
        m.lora_B.abs().sum() > 0 for m in adapted.modules() if isinstance(m, lora.LoRALinear)
    )
    removed = lora.remove_lora(adapted)
    assert weights_digest(removed.state_dict()) == weights_digest(base.state_dict())


def test_held_out_requests_are_never_trained_on():
    for task in chat.TASKS:
        train, val = finetune.letters(task, "train"), finetune.letters(task, "val")
        assert val and not set(train) & set(val)
    assert len(finetune.letters("#", "val")) == finetune.HASH_HELD_OUT


def test_a_mixture_draws_both_tasks_alike_and_the_same_rows_for_a_seed():
    draw = finetune.batches(("#", "↑"), True, 64)
    x, y = draw("train", torch.Generator().manual_seed(0))
    requests = [chat.VOCAB[i] for i in x[:, 1].tolist()]
    assert 16 < requests.count("#") < 48
    again = draw("train", torch.Generator().manual_seed(0))
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])


def test_a_trainable_token_row_trains_that_row_both_ways_and_moves_nothing_else():
    base = small_gpt(vocab_size=len(chat.VOCAB), block_size=finetune.context())
    hash_id, C = chat.STOI["#"], base.config.n_embd
    adapted = lora.add_lora(copy.deepcopy(base).train(), rank=2, tokens=[hash_id])
    only_adapters = lora.add_lora(copy.deepcopy(base), rank=2)
    assert lora.trainable(adapted) == lora.trainable(only_adapters) + C  # one row more
    idx = torch.tensor([chat.prompt("#", "ABCCBACCABC")])
    with torch.no_grad():
        assert torch.allclose(adapted(idx)[0], base(idx)[0], atol=1e-6)  # the row starts as it was
    cfg = {**finetune_runs.settings("LoRA r=8, # row", 0), "max_iters": 3, "eval_iters": 1}
    train.fit(adapted, cfg, finetune.batches(("#",), True, 4))
    merged = lora.merge_lora(copy.deepcopy(adapted))
    table, before = merged.transformer.wte.weight, base.transformer.wte.weight
    assert merged.lm_head.weight is table  # still tied: the row is the token both ways
    others = torch.arange(len(chat.VOCAB)) != hash_id
    assert torch.equal(table[others], before[others]) and not torch.equal(table, before)
    with torch.no_grad():
        assert torch.allclose(merged(idx, idx)[0], adapted(idx, idx)[0], atol=1e-5)
    removed = lora.remove_lora(adapted)
    assert weights_digest(removed.state_dict()) == weights_digest(base.state_dict())
