"""The project's own rules: the public face, the import graph, sizes, packaging, tooling."""
