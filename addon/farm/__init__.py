"""bpy-free farm logic shared by the add-on, the relay and the provider."""
