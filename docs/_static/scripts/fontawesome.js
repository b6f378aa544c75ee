/* Takes the place of pydata-sphinx-theme's fontawesome.js (1.5 MB of every Font Awesome
   icon as SVG paths, loaded on every page). The theme's stylesheet already draws the
   icons its buttons use from the Font Awesome web font, so nothing is needed here. */
