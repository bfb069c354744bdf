"""Entry points: parse input, call a service, render the result. They never import each other."""
