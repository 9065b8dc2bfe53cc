"""Recurrent layers: SimpleRNN, LSTM, GRU, ConvLSTM, Bidirectional, TimeDistributed; PyTorch RNN/LSTM/GRU."""

from __future__ import annotations
