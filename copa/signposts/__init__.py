"""Signposts: links the app offers to other services, and their anonymous click-through counts."""
