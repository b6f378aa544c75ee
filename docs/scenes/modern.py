"""Chapter 11: RoPE's turn of a query and a key, with a trained RoPE model's own vectors.

The first held-out sort problem goes through block 0 of the chapter's trained RoPE run.
Head 0's query at one position and its key at an earlier one are cut into channel pairs;
the clip draws pair 0, the fastest (one radian per position), as two arrows in its
plane, each in its measured direction (at a fixed length on screen: a turn changes no
length). RoPE turns each by its position; turned back as far, both positions earlier, the
angle between them and the score they make are the same. Every number shown is measured.
"""

import math

import numpy as np
import torch
from bookscene import *
from palette import ACCENT_2, ROLE, TEXT, TEXT_2

RUN, VAL_ROW, HEAD = "RoPE", 0, 0  # the chapter's trained run, its first held-out problem
QUERY, KEY = 10, 2  # positions: the query that writes the last sorted letter, a prompt letter
BACK = KEY  # both moved this many positions earlier: the key then sits at position 0
R = 2.1  # the plane's radius on screen, and the query's arrow; the key's is shorter
KEY_LENGTH = 0.75 * R
CENTRE = np.array([-3.6, -0.55, 0])
NOTES_LEFT, NOTES_TOP = -0.6, 2.2  # the captions' column, right of the plane


def measure() -> dict:
    """Head 0's query at QUERY and key at KEY in block 0: pair 0 of each before and after
    its turn, the angle between the turned pair, the pair's share of the score and the
    whole score, at the two positions and at both moved BACK positions earlier."""
    from model_src import presets
    from model_src.experiments import variants
    from model_src.modern import rope_angles, rotate

    model = variants.get(RUN, variants.SEEDS[0])["model"]
    data = presets.dataset("sort")
    row = data.val.reshape(-1, data.meta["seq_len"])[VAL_ROW].astype("int64")
    idx = torch.from_numpy(row[:-1])[None]  # (1, T)
    block = model.transformer.h[0]
    with torch.no_grad():
        q, k, _ = block.attn.heads(block.ln_1(model.embed(idx)))  # turned: (1, nh, T, hs)
        angles = block.attn.angles
        q0, k0 = rotate(q, -angles)[0, HEAD], rotate(k, -angles)[0, HEAD]  # (T, hs): unturned
        assert torch.allclose(rotate(q0[None, None], angles)[0, 0], q[0, HEAD], atol=1e-6)
    hs = q0.size(-1)
    base = model.config.rope_base
    speed = rope_angles(hs, 2, base)[1, 0].item()  # pair 0's turn per position
    turns = rope_angles(hs, QUERY + 1, base)  # every position the clip names

    def score(t: int, s: int) -> tuple[float, float]:
        """Pair 0's share of the score q·k/sqrt(hs), and the whole score, with the query
        turned as at position t and the key as at s."""
        qt = rotate(q0[QUERY][None, None, None], turns[t : t + 1])[0, 0, 0].double()
        ks = rotate(k0[KEY][None, None, None], turns[s : s + 1])[0, 0, 0].double()
        return (qt[:2] @ ks[:2]).item() / math.sqrt(hs), (qt @ ks).item() / math.sqrt(hs)

    pair, whole = score(QUERY, KEY)
    pair_back, whole_back = score(QUERY - BACK, KEY - BACK)
    assert abs(whole - whole_back) < 1e-5 and abs(pair - pair_back) < 1e-5
    q_pair, k_pair = q0[QUERY, :2].double(), k0[KEY, :2].double()
    start = {
        name: math.atan2(v[1].item(), v[0].item()) for name, v in (("q", q_pair), ("k", k_pair))
    }
    gap = (start["q"] + QUERY * speed) - (start["k"] + KEY * speed)
    return {
        "q": q_pair.tolist(),
        "k": k_pair.tolist(),
        "speed": speed,
        "gap": abs(math.degrees(math.remainder(gap, 2 * math.pi))),
        "pair": pair,
        "whole": whole,
        "pairs": hs // 2,
        "seed": variants.SEEDS[0],
        "prompt": "".join(data.meta["itos"][i] for i in row[: data.meta["prompt_len"]]),
    }


class RotaryScene(BookScene):
    def construct(self):
        m = measure()
        self.show_title(
            "RoPE: positions as rotations",
            f"block 0, head {HEAD} of a trained RoPE run (seed {m['seed']}), problem {m['prompt']}",
        )
        notes = VGroup()
        plane, arrows = self.show_pair(m, notes)
        self.turn(m, notes, arrows)
        gap = self.show_gap(m, notes, arrows)
        self.move_back(m, notes, arrows, gap, plane[0])
        self.takeaway(
            "RoPE's scores see how far apart a query and a key are,\nnot where they are.",
            "(R_t q) · (R_s k) = q · R_(s−t) k: a turn keeps lengths,\n"
            "and turning both alike keeps the angle between them.",
        )

    def show_pair(self, m: dict, notes: VGroup) -> tuple[VGroup, dict]:
        """Pair 0's plane, and the query's and the key's pair 0 as c_attn makes them."""
        circle = Circle(radius=R, color=TEXT_2, stroke_width=3, stroke_opacity=0.6)
        circle.move_to(CENTRE)
        axes = VGroup(
            Line(CENTRE + (R + 0.2) * LEFT, CENTRE + (R + 0.2) * RIGHT),
            Line(CENTRE + (R + 0.2) * DOWN, CENTRE + (R + 0.2) * UP),
        ).set_stroke(TEXT_2, width=2, opacity=0.4)
        lengths = {"q": R, "k": KEY_LENGTH}
        arrows = {
            name: Arrow(
                CENTRE,
                CENTRE + lengths[name] * np.array([*m[name], 0]) / math.hypot(*m[name]),
                buff=0,
                color=ROLE[name],
                stroke_width=7,
                max_tip_length_to_length_ratio=0.12,
            )
            for name in ("q", "k")
        }
        plane = keep_clear(VGroup(circle, axes))
        key = self.colour_key(QUERY, KEY, circle)
        self.say(
            notes,
            "Channels 0 and 1 (pair 0, the one\n"
            "turned fastest) of the query and\n"
            "the key, as c_attn makes them:\n"
            "no position in them yet. The\n"
            "arrows show their directions.",
            TEXT,
        )
        self.play(
            FadeIn(plane), FadeIn(key), *[GrowArrow(a) for a in arrows.values()], run_time=1.2
        )
        self.wait(2.0)  # the first caption is the longest
        self.key = key
        return plane, arrows

    def colour_key(self, query: int, key: int, circle: Circle) -> VGroup:
        """The arrows' names and positions, under the plane."""
        rows = VGroup(
            label(f"q: the query at position {query}", MIN_TEXT, ROLE["q"]),
            label(f"k: the key at position {key}", MIN_TEXT, ROLE["k"]),
        ).arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        return rows.next_to(circle, DOWN, buff=0.25).align_to(circle, LEFT)

    def turn(self, m: dict, notes: VGroup, arrows: dict) -> None:
        """RoPE turns each arrow by its position times the pair's speed."""
        for name, position, who in (("q", QUERY, "query"), ("k", KEY, "key")):
            self.say(
                notes,
                f"RoPE turns the {who}\nby {position} × {m['speed']:g} rad",
                ROLE[name],
            )
            self.play(Rotate(arrows[name], position * m["speed"], about_point=CENTRE), run_time=1.6)
        self.wait(0.5)

    def show_gap(self, m: dict, notes: VGroup, arrows: dict) -> VMobject:
        """The angle between the turned arrows, and what the pair adds to the score."""
        gap = self.angle_between(arrows)
        self.say(
            notes,
            f"The angle between them: {m['gap']:.0f}°.\n"
            f"This pair adds {number(m['pair'], '.3f')} to the\n"
            f"score q·k/√hs; all {m['pairs']} pairs\n"
            f"make {number(m['whole'], '.3f')}",
            ACCENT_2,
            fresh=True,
        )
        self.play(Create(gap), run_time=0.8)
        self.wait(2.0)
        self.mark_poster()  # both turns and the angle they leave
        return gap

    def move_back(self, m: dict, notes: VGroup, arrows: dict, gap: VMobject, circle) -> None:
        """Both positions BACK earlier: each arrow turns back as far, the angle stays."""
        self.say(
            notes,
            f"The same query and key, {BACK}\n"
            f"positions earlier (at {QUERY - BACK} and {KEY - BACK}):\n"
            f"each turns back {BACK} × {m['speed']:g} rad",
            TEXT,
            fresh=True,
        )
        back = -BACK * m["speed"]
        moved = self.colour_key(QUERY - BACK, KEY - BACK, circle)
        self.play(
            *[Rotate(arrow, back, about_point=CENTRE) for arrow in arrows.values()],
            Rotate(gap, back, about_point=CENTRE),
            swap(self.key, moved),
            run_time=1.8,
        )
        self.say(
            notes,
            f"Still {m['gap']:.0f}°. Every other pair keeps\n"
            f"its own angle too: the score\n"
            f"is still {number(m['whole'], '.3f')}",
            ACCENT_2,
        )
        self.wait(2.0)

    def angle_between(self, arrows: dict) -> VMobject:
        """An arc from the key's arrow to the query's, the short way round."""
        k_dir, q_dir = (arrows[n].get_end() - CENTRE for n in ("k", "q"))
        start = math.atan2(k_dir[1], k_dir[0])
        sweep = math.remainder(math.atan2(q_dir[1], q_dir[0]) - start, 2 * math.pi)
        return Arc(0.7, start, sweep, arc_center=CENTRE, color=ACCENT_2, stroke_width=5)

    def say(self, notes: VGroup, text: str, color: str, fresh: bool = False) -> None:
        """A caption in the right column, under the ones before it, or alone at its top
        when ``fresh``."""
        note = caption(text, MIN_TEXT, color, line_spacing=1.05)
        if fresh and notes:
            self.play(FadeOut(notes), run_time=0.4)
            notes.remove(*notes)
        if notes:
            note.next_to(notes[-1], DOWN, buff=0.35, aligned_edge=LEFT)
        else:
            note.move_to([NOTES_LEFT, NOTES_TOP, 0], aligned_edge=UL)
        notes.add(note)
        self.play(FadeIn(note), run_time=0.5)
