# Every page here is wrong on purpose; the tests point annotated_source_root and
# nanobook_presets at the test-annotated-source fixtures.
extensions = ["myst_parser", "ext.annotated_source"]
exclude_patterns = ["_build"]
