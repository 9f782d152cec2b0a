"""Asterisk's AudioSocket: the frame format, and the dial strings that make a call ring an operator's softphone."""
