"""The IR itself, framework-free (NumPy only)."""
from irforge.ir.graph import Model, Node, Output, constant, make, parameter, result
from irforge.ir.shape import Dimension, PartialShape
from irforge.ir.types import ElementType, Type

__all__ = ["Model", "Node", "Output", "make", "constant", "parameter", "result", "Dimension", "PartialShape",
           "ElementType", "Type"]
