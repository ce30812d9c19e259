"""What only the lessons use: the book builder (`tinygrad-edu book`).

The library (tensor engine, nn, optim, models) never imports from here; this package sits
on the top floor, beside `cli.py`.
"""
