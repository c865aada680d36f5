"""Documents (versioned artifacts) and their suggestions."""
