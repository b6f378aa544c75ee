"""Chapter 12: nGPT's step along the unit sphere, with the trained model's own vectors.

The first held-out sort problem goes through the trained nGPT (with the position table)
to block 0's attention step, and the clip follows the last position. Five vectors of
that step lie in one three-dimensional subspace of the C-dimensional space: the hidden
state h, attention's raw output a, its direction h_A, the interpolated point
h + alpha (h_A - h) and its direction, the new h. An orthonormal basis of that subspace
draws all of them with their true lengths and angles; every number shown is measured.
"""

import math

import torch
from bookscene import *
from palette import ACCENT, ACCENT_2, POSITIVE, ROLE, TEXT, TEXT_2

RUN, VAL_ROW = "nGPT + wpe", 0  # the chapter's trained run, its first held-out problem
SHELL = 0.1  # the norm_eps of the chapter's exercise 3, a what-if beside the runs' own
R = 1.7  # the unit sphere's radius on screen
STATE, PROPOSAL, FLAT, STEP = ROLE["x"], ACCENT_2, ROLE["loss"], POSITIVE
NOTES_TOP = 2.35  # the top of the captions' column, under the title
ROW = 0.45  # the colour key's line height
PHI, THETA = 68 * DEGREES, -40 * DEGREES  # the camera's view of the sphere
# the sphere's centre: 2.6 to the right of the frame's centre and 0.4 down, on screen
# (screen-right is (-sin θ, cos θ, 0) in the scene's coordinates; up has sin φ of z)
CENTRE = 2.6 * np.array([-math.sin(THETA), math.cos(THETA), 0]) + np.array([0, 0, -0.45])


def measure() -> dict:
    """Block 0's attention step at the last position of the first held-out problem:
    the vectors of the step in 3D coordinates of the subspace they span, and their
    lengths and angles, computed in the model's own C dimensions."""
    from model_src import presets
    from model_src.experiments import variants
    from model_src.ngpt import unit

    model = variants.get(RUN, variants.SEEDS[0])["model"]
    data = presets.dataset("sort")
    row = data.val.reshape(-1, data.meta["seq_len"])[VAL_ROW].astype("int64")
    idx = torch.from_numpy(row[:-1])[None]  # (1, T)
    block = model.transformer.h[0]
    with torch.no_grad():
        h = unit(model.embed(idx))  # (1, T, C), what block 0 reads
        out = block.attn(h)
        h_a = unit(out)
        alpha = block.alpha_a()
        lerp = h + alpha * (h_a - h)
        new = unit(lerp)
        after_mlp = unit(new + block.alpha_m() * (unit(block.mlp(new)) - new))
        assert torch.allclose(after_mlp, block(h))  # the same step as NormBlock's
    v = {
        name: t[0, -1].double()
        for name, t in dict(h=h, out=out, h_a=h_a, lerp=lerp, new=new).items()
    }
    # h first, then what h_A and the new h add: h points up, h_A leans to the right
    basis, _ = torch.linalg.qr(torch.stack([v["h"], v["h_a"], v["new"]], dim=1))  # (C, 3)
    basis = basis * torch.sign(basis.T @ (v["h"] + v["h_a"] + v["new"]))  # axes facing them
    coords = {name: (basis.T @ x) for name, x in v.items()}
    for name, x in v.items():  # the subspace holds every vector of the step exactly
        assert abs(coords[name].norm() - x.norm()) < 1e-9, name

    def angle(a: str, b: str) -> float:
        return math.degrees(math.acos(float((v[a] @ v[b]) / (v[a].norm() * v[b].norm()))))

    return {
        "coords": {name: (c[1].item(), c[2].item(), c[0].item()) for name, c in coords.items()},
        "length": {name: x.norm().item() for name, x in v.items()},
        "flat": (v["h"] + v["out"]).norm().item(),
        "turn": angle("h", "h_a"),
        "step": angle("h", "new"),
        "alpha": alpha.mean().item(),
        "norm_eps": model.config.norm_eps,
        "prompt": "".join(data.meta["itos"][i] for i in row[: data.meta["prompt_len"]]),
    }


def within(length: float) -> float:
    """The length unit() with norm_eps = SHELL gives a vector of this length."""
    return min(max(length, 1 - SHELL), 1 + SHELL)


def fate(length: float) -> str:
    """What unit() with norm_eps = SHELL does to a vector of this length, in words: true
    of whichever side of the shell's edges a seed's vector lands on (an edge printed as
    the caption prints the shell's range)."""
    kept = within(length)
    return "would stay as it is" if kept == length else f"would become {kept:.1f}"


def shown(coords, length: float = 1.0) -> np.ndarray:
    """A vector of the subspace as a point of the scene (the unit sphere has radius R)."""
    return CENTRE + np.array(coords) * R * length


def arc_points(a, b, steps: int = 40) -> list[np.ndarray]:
    """The great-circle arc from a to b on the sphere of radius R."""
    a, b = np.array(a) / np.linalg.norm(a), np.array(b) / np.linalg.norm(b)
    omega = math.acos(float(np.clip(a @ b, -1, 1)))
    return [
        CENTRE + R * (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
        for t in np.linspace(0, 1, steps)
    ]


def ray(end, color: str, width: float = 6) -> VGroup:
    """A vector from the centre: a line with a dot at its tip (3D arrows render heavily)."""
    return VGroup(
        Line3D(CENTRE, end, thickness=0.02 * width / 6, color=color),
        Dot3D(end, radius=0.07, color=color),
    )


class SphereScene(BookScene, ThreeDScene):
    def __init__(self, renderer=None, **kwargs):
        if renderer is not None and not isinstance(renderer.camera, ThreeDCamera):
            renderer.camera = ThreeDCamera()  # a renderer made for flat scenes: give it depth
        super().__init__(renderer=renderer, **kwargs)

    def construct(self):
        m = measure()
        self.set_camera_orientation(phi=PHI, theta=THETA)
        self.show_fixed_title(m["prompt"])
        self.key = self.colour_key()
        notes = VGroup()
        sphere = self.show_state(m, notes)
        a = self.propose(m, notes)
        self.add_flat(m, notes, a)
        new = self.step_along(m, notes)
        self.show_shell(m, notes, sphere, a, new)
        self.play(*[FadeOut(mob) for mob in self.mobjects], run_time=0.6)
        self.set_camera_orientation(phi=0, theta=-90 * DEGREES)  # the card lies flat
        self.takeaway(
            "nGPT steps along the sphere, never off it.",
            "h ← unit(h + α ⊙ (h_A − h)), with α learned per channel;\n"
            "a norm_eps above 0 would widen the sphere into a thin shell.",
        )

    def colour_key(self) -> dict[str, VGroup]:
        """A key to the vectors of the 3D view, in the bottom left corner (fixed in the
        frame): each row is shown when its vector first is, and stays."""
        rows = {
            "h": (STATE, "h, the hidden state", True),
            "a": (FLAT, "a, attention's output", True),
            "h_a": (PROPOSAL, "h_A, a's direction", True),
            "flat": (FLAT, "h + a, GPT's sum", False),
            "lerp": (TEXT, "h + α(h_A − h), nGPT's step", False),
            "new": (STEP, "new h = unit(h + α(h_A − h))", True),
        }
        key = {}
        for name, (color, text, tipped) in rows.items():
            swatch = VGroup(
                Line(ORIGIN, 0.45 * RIGHT, color=color, stroke_width=4 if tipped else 2)
            )
            if name == "lerp":
                swatch = VGroup(Dot(0.225 * RIGHT, radius=0.08, color=color))
            elif tipped:
                swatch.add(Dot(0.45 * RIGHT, radius=0.06, color=color))
            words = label(text, MIN_TEXT, color).next_to(0.65 * RIGHT, RIGHT, buff=0)
            key[name] = VGroup(swatch, words).shift(len(key) * ROW * DOWN)  # one column
        VGroup(*key.values()).to_corner(DL, buff=0.35)  # the key: labels, not narration
        return key

    def show_key(self, *names: str) -> list[Animation]:
        """The key's rows for these vectors, coming in with them."""
        rows = [self.key[name] for name in names]
        self.add_fixed_in_frame_mobjects(*rows)
        return [FadeIn(row) for row in rows]

    def show_fixed_title(self, prompt: str) -> None:
        """The title, fixed in the frame while the camera turns."""
        title = VGroup(
            label("nGPT: the hidden state on the unit sphere", 36),
            label(f"block 0 of a trained {RUN}, last position of {prompt}", MIN_TEXT, TEXT_2),
        ).arrange(DOWN, buff=0.12)
        title.to_edge(UP, buff=0.35)
        self.beat(f"{title[0].original_text}: {title[1].original_text}")
        self.add_fixed_in_frame_mobjects(title)
        self.play(FadeIn(title), run_time=0.8)

    def show_state(self, m: dict, notes: VGroup) -> Sphere:
        """The unit sphere and the hidden state h on it."""
        sphere = Sphere(CENTRE, radius=R, resolution=(10, 20))
        sphere.set_fill(PANEL, opacity=0.35).set_stroke(TEXT_2, width=0.6, opacity=0.35)
        h = ray(shown(m["coords"]["h"]), STATE)
        self.say(notes, f"h, the hidden state: length {m['length']['h']:.3f}", STATE)
        self.play(FadeIn(sphere), Create(h), *self.show_key("h"), run_time=1.2)
        self.wait(0.8)
        return sphere

    def propose(self, m: dict, notes: VGroup) -> VGroup:
        """Attention proposes: its raw output a, and the direction h_A it stands for."""
        c, n = m["coords"], m["length"]
        a = ray(shown(c["out"]), FLAT, 4)
        h_a = ray(shown(c["h_a"]), PROPOSAL)
        self.say(notes, f"attention's output a: length {n['out']:.2f}", FLAT)
        self.play(Create(a), *self.show_key("a"), run_time=1.0)
        self.say(notes, f"h_A = a / |a|, {m['turn']:.0f}° away from h", PROPOSAL)
        self.play(Create(h_a), *self.show_key("h_a"), run_time=1.0)
        self.wait(0.6)
        return a

    def add_flat(self, m: dict, notes: VGroup, a: VGroup) -> None:
        """GPT's way: add in flat space, and the length goes where the sum takes it."""
        c = m["coords"]
        tip = shown(c["h"]) + shown(c["out"]) - CENTRE  # h + a
        flat = VGroup(
            Line3D(shown(c["h"]), tip, thickness=0.012, color=FLAT),
            Dot3D(tip, radius=0.07, color=FLAT),
        )
        self.say(notes, f"GPT adds: |h + a| = {m['flat']:.2f}, off the sphere", FLAT)
        self.play(Create(flat), *self.show_key("flat"), run_time=1.2)
        self.wait(1.0)
        self.play(flat.animate.set_opacity(0.25), a.animate.set_opacity(0.25), run_time=0.6)

    def step_along(self, m: dict, notes: VGroup) -> VGroup:
        """nGPT's way: part of the way towards h_A, then back onto the sphere."""
        c, n = m["coords"], m["length"]
        chord = DashedLine(shown(c["h"]), shown(c["h_a"]), color=TEXT_2, stroke_width=3)
        inner = Dot3D(shown(c["lerp"]), radius=0.08, color=TEXT)
        self.say(
            notes,
            f"nGPT moves h a fraction α (mean {m['alpha']:.2f})\n"
            f"towards h_A: h + α(h_A − h) has length {n['lerp']:.3f}",
            TEXT,
            fresh=True,
        )
        self.play(Create(chord), FadeIn(inner), *self.show_key("lerp"), run_time=1.2)
        new = ray(shown(c["new"]), STEP)
        path = VMobject(stroke_color=STEP, stroke_width=8).set_points_smoothly(
            arc_points(c["h"], c["new"])
        )
        self.say(
            notes, f"unit() puts it back on the sphere:\na step of {m['step']:.1f}° along it", STEP
        )
        self.play(Create(new), Create(path), *self.show_key("new"), run_time=1.2)
        self.wait(0.8)
        self.mark_poster()  # both steps in one picture: off the sphere, and along it
        self.begin_ambient_camera_rotation(rate=0.15)
        self.wait(2.0)
        self.stop_ambient_camera_rotation()
        return VGroup(new, path)

    def show_shell(self, m: dict, notes: VGroup, sphere: Sphere, a: VGroup, new: VGroup):
        """What norm_eps = SHELL would change, which the trained runs do not use: unit()
        would keep a length within the shell and move any other to its nearer edge."""
        c, n = m["coords"], m["length"]
        shell = VGroup(
            *[
                Sphere(CENTRE, radius=R * r, resolution=(10, 20))
                .set_fill(color, opacity=0.12)
                .set_stroke(color, width=0.5, opacity=0.3)
                for r, color in ((1 - SHELL, TEXT_2), (1 + SHELL, ACCENT))
            ]
        )
        assert m["norm_eps"] != SHELL  # what the caption says: a what-if, not the runs
        self.say(
            notes,
            f"If unit() had norm_eps = {SHELL}\n"
            f"(the runs here use {m['norm_eps']:g}), it would keep\n"
            f"any length from {1 - SHELL:.1f} to {1 + SHELL:.1f} and move\n"
            "any other to the shell's nearer edge:\n"
            f"the step's {n['lerp']:.3f} {fate(n['lerp'])},\n"
            f"and a's {n['out']:.2f} {fate(n['out'])}",
            ACCENT,
            fresh=True,
        )
        self.play(FadeIn(shell), FadeOut(sphere), new.animate.set_opacity(0.25), run_time=1.0)
        # the step, as long as unit() would leave it (lerp's coordinates have its length)
        kept = ray(shown(c["lerp"], within(n["lerp"]) / n["lerp"]), TEXT, 4)
        moving = a[1].copy().set_opacity(1).scale(1.4)
        self.play(Create(kept), run_time=0.8)
        self.play(moving.animate.move_to(shown(c["h_a"], within(n["out"]))), run_time=1.2)
        self.wait(2.0)

    def say(self, notes: VGroup, text: str, color: str, fresh: bool = False) -> None:
        """A caption in the left column (fixed in the frame), under the ones before it,
        or alone at the top of the column when ``fresh``."""
        note = caption(text, MIN_TEXT, color, line_spacing=1.05)
        if fresh and notes:
            self.play(FadeOut(notes), run_time=0.4)
            notes.remove(*notes)
        if notes:
            note.next_to(notes[-1], DOWN, buff=0.3, aligned_edge=LEFT)
        else:  # the column's top, clear of the title however many lines the note has
            note.to_edge(LEFT, buff=0.5).shift((NOTES_TOP - note.get_top()[1]) * UP)
        notes.add(note)
        self.add_fixed_in_frame_mobjects(note)
        self.play(FadeIn(note), run_time=0.5)
