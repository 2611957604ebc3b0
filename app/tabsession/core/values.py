"""Small immutable-by-convention value objects that compare by type and fields.

MicroPython has neither dataclasses nor enums, so events, commands and records derive
from ``Value``: a subclass names its fields in ``FIELDS`` and gets a constructor that
takes them positionally or by keyword, equality, and a readable repr.
"""


class Value:
    FIELDS = ()
    DEFAULTS = {}  # field name -> value used when the field is not given

    def __init__(self, *args, **kwargs):
        names = self.FIELDS
        if len(args) > len(names):
            raise TypeError(type(self).__name__ + " takes " + str(len(names)) + " fields")
        for index in range(len(names)):
            name = names[index]
            if index < len(args):
                if name in kwargs:
                    raise TypeError(type(self).__name__ + ": " + name + " given twice")
                setattr(self, name, args[index])
            elif name in kwargs:
                setattr(self, name, kwargs.pop(name))
            elif name in self.DEFAULTS:
                setattr(self, name, self.DEFAULTS[name])
            else:
                raise TypeError(type(self).__name__ + ": missing field " + name)
        if kwargs:
            raise TypeError(type(self).__name__ + ": unknown field " + ",".join(kwargs))

    def values(self):
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other):
        return type(self) is type(other) and self.values() == other.values()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((type(self).__name__, self.values()))

    def __repr__(self):
        parts = [name + "=" + repr(getattr(self, name)) for name in self.FIELDS]
        return type(self).__name__ + "(" + ", ".join(parts) + ")"
