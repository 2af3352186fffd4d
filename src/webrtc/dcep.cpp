// Placeholder: filled in by the Transport issue.
