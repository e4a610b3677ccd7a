"""Architecture search: DARTS/DARTS-PRIME, EquiNAS, self-organising hierarchies."""
