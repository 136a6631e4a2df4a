// The agent's state on disk, which posturectl's endpoint half reads without the rest of the agent.
@_exported import PostureAgentState
