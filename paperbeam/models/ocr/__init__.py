"""OCR engines behind one interface; chosen by name through the plugin registry."""
