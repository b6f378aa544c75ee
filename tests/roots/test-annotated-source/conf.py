import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the stand-in presets module

extensions = ["myst_parser", "ext.annotated_source"]
myst_enable_extensions = ["dollarmath"]
nanobook_presets = "as_presets"
annotated_source_url = "https://forge.example/nanobook/blob/main/model_src/{path}#L{start}-L{end}"
exclude_patterns = ["_build", "other_checkout", "model_src"]
