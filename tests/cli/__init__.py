"""The ``tether`` commands as a person runs them."""
