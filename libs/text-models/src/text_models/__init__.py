"""Local text models shared by the services that need them (no model hub at run time)."""
