"""A resident's report being submitted: checked, referenced, routed and acknowledged."""
