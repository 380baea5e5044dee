"""The failure taxonomy and the classifier: kinds, the catalogue, ``tether.classify``, the
matrix."""
