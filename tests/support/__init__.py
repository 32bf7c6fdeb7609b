"""What the tests share: Redis servers, emulator and browser fixtures, waiting helpers, the
X API spec, and one world per purpose (``ApiWorld``, ``PublishWorld``, ``IntakeWorld``,
``LiveWorld``, ``ConformanceWorld``, ``BrowserWorld``) with the builders around it.

Test modules import from here, never from one another (tests/test_layout_of_tests.py).
"""

import pkgutil

import pytest

# The asserts of the helpers here explain their failures as the tests' own do.
pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
