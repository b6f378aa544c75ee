extensions = ["myst_parser", "ext.live_models"]
