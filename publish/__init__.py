"""Publishing the read model where people already look: Home Assistant over MQTT discovery."""
