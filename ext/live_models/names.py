"""What the exported models are called besides the presets: a name the directives read
and the compute step resolves, kept apart from both so that neither imports the other."""

# Models a chapter trains (not presets), each with the one widget kind that shows it.
TOOL_MODELS = ("calculator",)
# live-chat's runs (experiments/finetune_runs.py, named as runner.slug names them) are
# exported as scripts of this prefix: "finetune-mixture".
CHAT_PREFIX = "finetune-"


def chat_script(run: str) -> str:
    """The exported script of a fine-tuning run."""
    return f"{CHAT_PREFIX}{run}"
