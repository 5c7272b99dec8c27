"""The one trainer shared by every stage and recipe."""
