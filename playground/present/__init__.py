"""Text for people: figures, traces, reports and plots shared by the CLI and the TUI."""
