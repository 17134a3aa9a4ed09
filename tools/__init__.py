"""Command-line tools that work beside the stack: offline plan, deploys, the mock engine."""
