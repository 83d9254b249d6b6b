"""The `omnibot` command line (`cli`), the composition root (`bootstrap`) and the schema registry (`schema`)."""
