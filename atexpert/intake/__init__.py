"""Intake: public posts on X become pending questions, none lost, none twice."""
