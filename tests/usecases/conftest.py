"""The API fixtures (the real app over the real node) serve the use cases' store tests too."""

from tests.api.conftest import api, make_api, taxonomy

__all__ = ["api", "make_api", "taxonomy"]
