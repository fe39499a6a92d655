"""For the operator: the command line (`python -m program`) and the demo data. May use every domain
layer; nothing imports it."""
