"""What training holds in memory, counted in bytes from the tensors themselves.

state_bytes(model, optimizer)  # weights, gradients, AdamW's buffers
saved_bytes(model, idx)        # activations autograd keeps for the backward pass
"""

import torch


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def state_bytes(model, optimizer) -> dict[str, int]:
    """Weights, gradients and the optimiser's buffers (AdamW: exp_avg and exp_avg_sq per
    parameter, and a one-number step count), as they are after a step."""
    params = list(model.parameters())
    buffers = [t for state in optimizer.state.values() for t in state.values()]
    return {
        "weights": _bytes(params),
        "gradients": _bytes(p.grad for p in params if p.grad is not None),
        "optimizer": _bytes(t for t in buffers if torch.is_tensor(t)),
    }


def saved_bytes(model, idx) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass with a loss,
    leaving out the parameters (already counted as weights). A tensor saved twice, or two
    views of one storage, count once."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(idx, idx)
    return sum(storages.values())
