"""Everything that speaks to Asterisk: AMI, the call tracker, FastAGI, AudioSocket, the simulator."""
