"""Contact details a resident may give with a submission, kept apart from it; phones in E.164."""
