"""Tables of challenges: postings, applications, awards, milestones and escrowed funds."""

from __future__ import annotations
