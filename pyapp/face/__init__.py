"""Frame -> face embedding: frame, detect, quality, align, embed, pipeline, capture.

The model manifest and the compact stored weights the stages load live here too.
"""
