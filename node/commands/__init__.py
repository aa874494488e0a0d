"""`congregation` subcommands that live in a file of their own."""
