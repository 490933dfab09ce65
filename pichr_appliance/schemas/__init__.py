"""Request and response shapes of the HTTP API: one pydantic model per body and answer.

One module per resource; ``common`` holds the limits and constrained types that
several of them share. Handlers validate bodies with these models, build answers from
them, and ``openapi`` turns them into the document's schemas.
"""
