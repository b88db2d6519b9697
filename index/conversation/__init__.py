"""Conversations: follow-up questions resolved against the earlier turns, stored durably."""
