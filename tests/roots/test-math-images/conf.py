import os
import sys

sys.path.insert(0, os.getcwd())  # the repository (the test runs the build from there)

extensions = ["ext.math_images"]
imgmath_image_format = "svg"
imgmath_use_preview = True
imgmath_dvisvgm_args = ["--no-fonts=1"]
imgmath_latex_preamble = "\\usepackage{xcolor}\n\\definecolor{q}{HTML}{1F77B4}\n"
exclude_patterns = ["broken.rst"]  # the failure test builds it
