"""Reading the text in images (OCR): the engine (`engine.py`) and the `TextReading` part (`reading.py`)."""
