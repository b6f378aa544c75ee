"""Chapter 4: one query attending to the keys before it, in the trained sort model.

Every number is measured when the clip renders: the first held-out sort problem (the one
the chapter's attention maps show) goes through the trained model once. The clip shows a
layer the model needs: one with a head whose silencing costs held-out accuracy (the
chapter's ablation finds the heads the model needs). probe's
attention_maps catches the weights; a hook on the layer's c_attn catches q and k, from
which the scores are recomputed by hand (and checked against the caught weights).
"""

import math

import torch
from bookscene import *
from palette import ACCENT_2, BG, PANEL, ROLE, TEXT, TEXT_2

VAL_ROW = 0  # the held-out problem the chapter's maps show
CELL = 0.85
GAP = 0.06
HEAD_ROWS_Y = (0.6, -0.35, -1.3)  # a row of scores, then weights, per head


def entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy of each row of attention weights, in nats: low means a sharp pattern."""
    return -(weights * weights.clamp_min(1e-12).log()).sum(-1)


def measure():
    """The trained run, the tokens, the layer and query shown, and that query's scores and
    weights in every head, each (nh, T).

    Among the layers the model needs, the layer and query are the ones whose heads attend
    most sharply (lowest mean entropy over the sorted positions): a near-uniform head
    shows no pattern worth watching.
    """
    from model_src import prepare, probe, tasks, trained

    sort = trained.get("sort")
    model = sort.model
    data = prepare.sort_data()
    row = data.val.reshape(-1, data.meta["seq_len"])[VAL_ROW].astype("int64")
    idx = torch.from_numpy(row[:-1])[None]  # (1, T): the last letter is only ever a target
    caught = {}
    hooks = [
        block.attn.c_attn.register_forward_hook(
            lambda m, i, out, layer=layer: caught.update({layer: out})
        )
        for layer, block in enumerate(model.transformer.h)
    ]
    try:
        with torch.no_grad(), probe.attention_maps(model) as maps:
            model(idx)
    finally:
        for hook in hooks:
            hook.remove()

    prompt_len = sort.meta["prompt_len"]
    sharpness = {  # (layer, query) -> mean entropy of its heads; queries in the answer
        (layer, query): entropy(maps[layer][0, :, query, : query + 1]).mean().item()
        for layer in needed_layers(model, probe, tasks)
        for query in range(prompt_len, idx.size(1) - 1)  # a later key left to mask
    }
    layer, query = min(sharpness, key=sharpness.__getitem__)

    B, T, C = caught[layer].shape[0], idx.size(1), model.config.n_embd
    nh = model.config.n_head
    q, k, _ = caught[layer].split(C, dim=2)
    q = q.view(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
    k = k.view(B, T, nh, C // nh).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1))[0, :, query] / math.sqrt(C // nh)  # (nh, T)
    weights = maps[layer][0, :, query]  # (nh, T)
    # the scores shown must be the ones that made the weights shown
    by_hand = scores.masked_fill(torch.arange(T) > query, float("-inf")).softmax(-1)
    assert torch.allclose(by_hand, weights, atol=1e-5)
    return sort, idx[0].tolist(), layer, query, scores.tolist(), weights.tolist(), model.config


def needed_layers(model, probe, tasks) -> list[int]:
    """The layers with a head whose silencing costs at least probe.NEEDED_SHARE of the
    held-out sort problems (the attention chapter's threshold)."""
    intact = tasks.sort_accuracy(model)
    needed = []
    for layer in range(model.config.n_layer):
        for head in range(model.config.n_head):
            with probe.heads_off(model, [(layer, head)]):
                if intact - tasks.sort_accuracy(model) >= probe.NEEDED_SHARE:
                    needed.append(layer)
                    break
    return needed


def cell_row(texts, stroke, size=MIN_TEXT, color=TEXT):
    """A row of cells with a text in each."""
    row = VGroup()
    for text in texts:
        box = panel(CELL, CELL, stroke=stroke)
        row.add(VGroup(box, label(text, size, color).move_to(box)))
    return row.arrange(RIGHT, buff=GAP)


def printed(weight) -> str:
    """A weight as its cell prints it."""
    return f"{weight:.2f}"


def weight_row(weights, y, query):
    """One head's weights as a heat strip: the brighter the cell, the larger the weight."""
    row = cell_row([printed(w) for w in weights], ACCENT_2)
    for i, w in enumerate(weights):
        # square root: small weights stay visible next to large ones; the digits are exact
        heat = interpolate_color(ManimColor(PANEL), ManimColor(ACCENT_2), math.sqrt(w))
        row[i][0].set_fill(heat)
        if i > query:
            row[i][1].set_color(TEXT_2)
        elif w > 0.4:  # dark digits on a bright cell
            row[i][1].set_color(BG)
    return row.move_to([0, y, 0]).align_to(LEFT * 5.3, LEFT)


class AttentionScene(BookScene):
    def construct(self):
        sort, tokens, layer, query, scores, weights, cfg = measure()
        itos, prompt_len = sort.meta["itos"], sort.meta["prompt_len"]
        hs = cfg.n_embd // cfg.n_head
        letters = [itos[t] for t in tokens]
        self.show_title(
            "Attention: one query, the keys before it",
            f"sort model, layer {layer} (the layer it needs): "
            f"prompt {''.join(letters[:prompt_len])}, sorted so far",
        )
        token_row, positions, token_name = self.show_tokens(letters)
        # every caption takes the place of the first, the query's
        place = self.pick_query(query, letters[query], token_row, positions)
        head_names, score_row, note = self.score(scores[0], query, hs, token_row, token_name, place)
        shade, note = self.mask_future(scores[0], query, token_row, score_row, note, place)
        rows = [weight_row(weights[h], y, query) for h, y in enumerate(HEAD_ROWS_Y)]
        note = self.softmax(sum(weights[0]), score_row, rows[0], shade, note, place)
        query_of = (query, letters[query])
        note = self.other_heads(tokens, weights, query_of, rows, head_names, shade, note, place)
        self.sum_values(query, cfg, rows, note, place)
        self.wait(2.0)
        self.mark_poster()  # the whole picture, just before the takeaway card
        self.takeaway(
            "Each position takes a weighted average\nof the positions up to itself.",
            f"Weights: a softmax of q · k / √{hs}, one set per head.\n"
            "The causal mask gives every later position exactly 0.",
        )

    def show_tokens(self, letters: list[str]) -> tuple[VGroup, VGroup, Text]:
        """The tokens, each with its position."""
        token_row = cell_row(letters, TEXT_2, size=28, color=ROLE["ids"]).move_to([0, 1.85, 0])
        token_row.align_to(LEFT * 5.3, LEFT)
        positions = VGroup(
            *[
                label(str(i), MIN_TEXT, TEXT_2).next_to(c, UP, buff=0.08)
                for i, c in enumerate(token_row)
            ]
        )
        token_name = label("tokens", MIN_TEXT, TEXT_2).next_to(token_row, LEFT, buff=0.3)
        self.play(
            LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in token_row], lag_ratio=0.05),
            FadeIn(positions),
            FadeIn(token_name),
            run_time=1.2,
        )
        return token_row, positions, token_name

    def pick_query(self, query: int, query_letter: str, token_row, positions) -> Text:
        """The query and the keys it may see; returns their caption."""
        keys = token_row[: query + 1]
        role_note = caption(
            f"query: position {query} ({query_letter})   ·   keys: positions 0–{query}",
            MIN_TEXT,
            TEXT,
            t2c={"query": ROLE["q"], "keys": ROLE["k"]},
        ).move_to([0, -2.7, 0])
        self.play(
            *[c[0].animate.set_stroke(ROLE["k"], width=3) for c in keys[:query]],
            token_row[query][0].animate.set_stroke(ROLE["q"], width=6),
            positions[query].animate.set_color(ROLE["q"]),
            FadeIn(role_note),
            run_time=1.0,
        )
        return role_note

    def score(self, scores, query: int, hs: int, token_row, token_name, place: Text):
        """Head 0: the real scores q·k/√hs. Returns the heads' names, the score row and
        the caption."""
        head_names = VGroup(
            *[
                label(f"head {h}", MIN_TEXT, ACCENT_2)
                .move_to([0, y, 0])
                .align_to(token_name, RIGHT)
                for h, y in enumerate(HEAD_ROWS_Y)
            ]
        )
        score_row = cell_row([number(s, ".1f") for s in scores], TEXT_2)
        score_row.move_to([0, HEAD_ROWS_Y[0], 0]).align_to(token_row, LEFT)
        score_note = caption(f"head 0 scores: q[{query}] · k[s] / √{hs}", MIN_TEXT, TEXT)
        score_note.move_to(place)
        self.play(
            FadeIn(head_names[0]),
            LaggedStart(*[FadeIn(c, shift=0.1 * DOWN) for c in score_row], lag_ratio=0.04),
            FadeOut(place),
            FadeIn(score_note),
            run_time=1.2,
        )
        self.wait(1.0)
        return head_names, score_row, score_note

    def mask_future(self, scores, query: int, token_row, score_row, score_note, place: Text):
        """The future's scores masked to −∞; returns the shade over the future (and its
        label) and the caption."""
        future = token_row[query + 1 :]
        mask = (
            Rectangle(
                width=future.width + 0.16,
                height=token_row.get_top()[1] - HEAD_ROWS_Y[-1] + CELL / 2 + 0.16,
                stroke_width=0,
                fill_color=BG,
                fill_opacity=0.55,
            )
            .move_to(future, aligned_edge=UP)
            .shift(0.08 * UP)
        )
        mask_label = label("future: masked", MIN_TEXT, TEXT_2).next_to(mask, DOWN, buff=0.1)
        minus_inf = VGroup(
            *[label("−∞", MIN_TEXT, TEXT_2).move_to(c) for c in score_row[query + 1 :]]
        )
        mask_note = caption(
            f"causal mask: position {query + 1} would score {number(scores[query + 1], '.1f')}, "
            "but the future is set to −∞",
            MIN_TEXT,
            TEXT,
        ).move_to(place)
        self.play(
            FadeIn(mask),
            FadeIn(mask_label),
            *[
                Transform(c[1], m)  # the cell keeps its text: it turns into a weight next
                for c, m in zip(score_row[query + 1 :], minus_inf, strict=True)
            ],
            swap(score_note, mask_note),
            run_time=1.2,
        )
        self.wait(1.3)
        return (mask, mask_label), mask_note

    def softmax(self, total: float, score_row, weight_row, shade, mask_note, place: Text):
        """Softmax: the scores become weights that sum to 1 (``total``)."""
        softmax_note = caption(
            f"softmax → weights ≥ 0 that sum to {total:.2f}; the future gets exactly 0",
            MIN_TEXT,
            TEXT,
        ).move_to(place)
        self.play(
            *[ReplacementTransform(a, b) for a, b in zip(score_row, weight_row, strict=True)],
            swap(mask_note, softmax_note),
            run_time=1.4,
        )
        self.bring_to_front(*shade)
        self.wait(1.5)
        return softmax_note

    def other_heads(self, tokens, weights, query_of, rows, head_names, shade, note, place):
        """The other heads: their own q and k, so their own weights over the same keys;
        the head that looks most at the query's own letter (``query_of``: the query's
        position and letter) picked out."""
        query, query_letter = query_of
        # summed as the cells print them, so the caption adds up what the reader sees
        same_letter = [
            sum(float(printed(head[s])) for s in range(query + 1) if tokens[s] == tokens[query])
            for head in weights
        ]
        keen = max(range(len(weights)), key=same_letter.__getitem__)
        heads_note = caption(
            f"each head its own weights: head {keen} puts {same_letter[keen]:.2f} "
            f"on the keys holding {query_letter}, its letter",
            MIN_TEXT,
            TEXT,
        ).move_to(place)
        self.play(
            FadeIn(head_names[1:]),
            *[FadeIn(r, shift=0.1 * DOWN) for r in rows[1:]],
            swap(note, heads_note),
            run_time=1.4,
        )
        self.bring_to_front(*shade)
        self.play(
            *[
                rows[keen][s][0].animate.set_stroke(ROLE["q"], width=5)
                for s in range(query + 1)
                if tokens[s] == tokens[query]
            ],
            run_time=0.8,
        )
        self.wait(1.6)
        return heads_note

    def sum_values(self, query: int, cfg, rows, heads_note, place: Text) -> None:
        """The weighted sum of values, one hs-wide output per head."""
        outputs = VGroup()
        for h, y in enumerate(HEAD_ROWS_Y):
            card = panel(1.5, CELL, stroke=ROLE["v"])
            name = label(f"y{'₀₁₂₃₄₅₆₇₈₉'[h]}[{query}]", MIN_TEXT, ROLE["v"]).move_to(card)
            outputs.add(VGroup(card, name).move_to([6.1, y, 0]))
        arrows = VGroup(
            *[
                side_arrow(r.get_right(), o.get_left(), ROLE["v"])
                for r, o in zip(rows, outputs, strict=True)
            ]
        )
        sum_note = caption(
            f"y[{query}] = Σ w[s] · v[s] over s ≤ {query}: {cfg.n_head} heads × "
            f"{cfg.n_embd // cfg.n_head} = {cfg.n_embd} channels → c_proj",
            MIN_TEXT,
            TEXT,
        ).move_to(place)
        self.play(
            *[GrowArrow(a) for a in arrows],
            LaggedStart(*[FadeIn(o, shift=0.2 * RIGHT) for o in outputs], lag_ratio=0.15),
            swap(heads_note, sum_note),
            run_time=1.4,
        )
