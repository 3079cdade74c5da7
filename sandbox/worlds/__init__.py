"""World documents (YAML or JSON): parse, validate with located problems, build, dump."""
